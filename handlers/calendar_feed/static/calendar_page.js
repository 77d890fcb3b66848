// The release calendar page: times in the reader's own time zone.
// The server writes every time in UTC inside <time datetime="…Z">; this shows each in the
// browser's zone and moves each event of the month view to its local day. No inline
// script anywhere (the Content-Security-Policy allows only this file).
(function () {
  "use strict";

  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  var formats = {
    datetime: new Intl.DateTimeFormat(undefined, {
      weekday: "short",
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    }),
    time: new Intl.DateTimeFormat(undefined, {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }),
  };
  var dayParts = new Intl.DateTimeFormat("en-CA", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });

  function localDay(when) {
    var parts = {};
    dayParts.formatToParts(when).forEach(function (part) {
      parts[part.type] = part.value;
    });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  function parse(element, attribute) {
    var when = new Date(element.getAttribute(attribute));
    return isNaN(when.getTime()) ? null : when;
  }

  document.querySelectorAll("time[datetime]").forEach(function (element) {
    var when = parse(element, "datetime");
    if (!when) return;
    var format = formats[element.getAttribute("data-format")] || formats.datetime;
    element.title = element.textContent;
    element.textContent = format.format(when);
  });

  var cells = {};
  document.querySelectorAll("td[data-date]").forEach(function (cell) {
    cells[cell.getAttribute("data-date")] = cell.querySelector("ul.chips");
  });
  var chips = Array.prototype.slice.call(document.querySelectorAll("li.chip[data-start]"));
  chips.sort(function (a, b) {
    return a.getAttribute("data-start") < b.getAttribute("data-start") ? -1 : 1;
  });
  chips.forEach(function (chip) {
    var when = parse(chip, "data-start");
    var list = when && cells[localDay(when)];
    if (list) {
      list.appendChild(chip);
    } else {
      chip.remove(); // not on a day this month view shows, in this time zone
    }
  });

  document.getElementById("viewer-zone").textContent = zone;
  document.documentElement.classList.add("local-times");
})();
