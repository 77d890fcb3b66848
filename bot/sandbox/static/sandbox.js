// The releasebot sandbox page: a small stand-in for Slack's client.
// Every value from the server is put in the page with textContent or as a DOM property,
// never parsed as HTML.
"use strict";

const app = {
  me: null,
  where: "C0RELEASES", // a channel id, or "home"
  state: null,
  shownModal: null, // "view id/hash" on screen
  seen: {}, // "person/channel" -> the newest ts they have seen there
  fetching: null,
  again: false,
  drawn: new Map(), // "viewer/channel/…" -> { shape, node } of what the timeline shows
};

// ---- DOM helpers --------------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function notice(message) {
  const box = $("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: app.me, ...body }),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch (_) {
    answer = {};
  }
  if (!response.ok) {
    notice(answer.error || `The sandbox answered ${response.status}`);
    return null;
  }
  notice("");
  refresh();
  return answer;
}

// ---- people, channels, time ----------------------------------------------------------------

function person(id) {
  return (app.state && app.state.people.find((p) => p.id === id)) || null;
}

function myZone() {
  const me = person(app.me);
  return (me && me.tz) || "UTC";
}

function channelName(id) {
  const found = app.state && app.state.channels.find((c) => c.id === id);
  return found ? found.name : id;
}

function groupHandle(id) {
  const found = app.state && app.state.groups.find((g) => g.id === id);
  return found ? found.handle : null;
}

function wallParts(date, zone) {
  const parts = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  for (const part of format.formatToParts(date)) parts[part.type] = part.value;
  return parts;
}

function dayNumber(date, zone) {
  const p = wallParts(date, zone);
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)) / 86400000;
}

// The instant at wall time y-m-d h:mi in `zone`.
function zonedToEpoch(y, m, d, h, mi, zone) {
  const wanted = Date.UTC(y, m - 1, d, h, mi);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const p = wallParts(new Date(guess), zone);
    const seen = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    guess += wanted - seen;
  }
  return Math.round(guess / 1000);
}

function fmt(date, zone, options) {
  return new Intl.DateTimeFormat("en-US", { timeZone: zone, ...options }).format(date);
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function longDate(date, zone, withWeekday) {
  const p = wallParts(date, zone);
  const month = fmt(date, zone, { month: "long" });
  const text = `${month} ${ordinal(Number(p.day))}, ${p.year}`;
  return withWeekday ? `${fmt(date, zone, { weekday: "long" })}, ${text}` : text;
}

function pretty(date, zone, otherwise) {
  const diff = dayNumber(date, zone) - dayNumber(new Date(), zone);
  if (diff === 0) return "today";
  if (diff === 1) return "tomorrow";
  if (diff === -1) return "yesterday";
  return otherwise;
}

function ago(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return rtf.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

// <!date^1767200400^{date_short_pretty} {time}|fallback> in the person's own time zone.
function slackDate(token) {
  const [spec, fallback] = splitOnce(token.slice("!date^".length), "|");
  const pieces = spec.split("^");
  const seconds = Number(pieces[0]);
  if (!Number.isFinite(seconds) || pieces.length < 2) return fallback || token;
  const date = new Date(seconds * 1000);
  const zone = myZone();
  const short = fmt(date, zone, { month: "short", day: "numeric", year: "numeric" });
  const tokens = {
    date_num: (() => { const p = wallParts(date, zone); return `${p.year}-${p.month}-${p.day}`; })(),
    date: longDate(date, zone, false),
    date_short: short,
    date_long: longDate(date, zone, true),
    date_pretty: pretty(date, zone, longDate(date, zone, false)),
    date_short_pretty: pretty(date, zone, short),
    date_long_pretty: pretty(date, zone, longDate(date, zone, true)),
    time: fmt(date, zone, { hour: "numeric", minute: "2-digit" }),
    time_secs: fmt(date, zone, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: ago(date),
  };
  const text = pieces[1].replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(tokens, name) ? tokens[name] : whole);
  return { text, title: `${zone} · ${date.toISOString()}` };
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// ---- mrkdwn -----------------------------------------------------------------------------

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeHref(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function angle(token) {
  const inner = token.slice(1, -1);
  if (inner.startsWith("@")) {
    const [id, label] = splitOnce(inner.slice(1), "|");
    const who = person(id);
    const name = who ? who.real_name : (label || id);
    return el("span", { class: id === app.me ? "mention me" : "mention", dataset: { user: id } }, "@" + name);
  }
  if (inner.startsWith("#")) {
    const [id, label] = splitOnce(inner.slice(1), "|");
    return el("span", { class: "mention", dataset: { channel: id } }, "#" + (label || channelName(id)));
  }
  if (inner.startsWith("!subteam^")) {
    const [id, label] = splitOnce(inner.slice("!subteam^".length), "|");
    const handle = groupHandle(id) || (label || id).replace(/^@/, "");
    return el("span", { class: "mention", dataset: { group: id } }, "@" + handle);
  }
  if (inner.startsWith("!date^")) {
    const shown = slackDate(inner);
    if (typeof shown === "string") return document.createTextNode(unescapeSlack(shown));
    return el("time", { class: "date", title: shown.title }, shown.text);
  }
  if (inner.startsWith("!")) {
    const [name, label] = splitOnce(inner.slice(1), "|");
    return el("span", { class: "mention" }, label || "@" + name);
  }
  const [url, label] = splitOnce(inner, "|");
  const href = safeHref(unescapeSlack(url));
  const text = unescapeSlack(label || url);
  if (!href) return document.createTextNode(text);
  const inPlace = permalink(href);
  if (inPlace) {
    return el("a", { href: "#", onclick: (event) => { event.preventDefault(); reveal(inPlace); } }, text);
  }
  return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
}

// The shortcodes the bot uses, drawn as Slack draws them; others stay as typed.
const EMOJI = {
  warning: "⚠️", tada: "🎉", rocket: "🚀", white_check_mark: "✅", x: "❌", rewind: "⏪",
  no_entry: "⛔", double_vertical_bar: "⏸️", snowflake: "❄️", heavy_minus_sign: "➖",
  white_large_square: "⬜", sparkles: "✨", satellite_antenna: "📡", rotating_light: "🚨",
  repeat: "🔁", no_entry_sign: "🚫", memo: "📝", leftwards_arrow_with_hook: "↩️", key: "🔑",
  ice_cube: "🧊", hourglass_flowing_sand: "⏳", hourglass: "⌛", heavy_plus_sign: "➕",
  gear: "⚙️", busts_in_silhouette: "👥", ballot_box_with_check: "☑️", arrow_up: "⬆️",
  arrow_forward: "▶️", calendar: "📅", bell: "🔔", lock: "🔒", clock3: "🕒", bust_in_silhouette: "👤",
  large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡", pause_button: "⏸️",
  heavy_check_mark: "✔️", package: "📦", link: "🔗", eyes: "👀", wave: "👋", information_source: "ℹ️",
  alarm_clock: "⏰", mega: "📣", calendar_spiral: "🗓️",
};

// https://<team>.slack.com/archives/C123/p1700000000123456?thread_ts=… → that message here.
function permalink(href) {
  const prefix = app.state && app.state.archives;
  if (!prefix || !href.startsWith(prefix)) return null;
  const match = /^([A-Z0-9]+)\/p(\d{7,})/.exec(href.slice(prefix.length));
  if (!match) return null;
  const digits = match[2];
  return { channel: match[1], ts: `${digits.slice(0, -6)}.${digits.slice(-6)}` };
}

function reveal(target) {
  go(target.channel);
  const found = document.querySelector(`article[data-ts="${CSS.escape(target.ts)}"]`);
  if (found) {
    found.scrollIntoView({ block: "center" });
    found.classList.add("highlight");
  }
}

const INLINE = /(<[^<>\n]+>)|(`[^`\n]+`)|(:[a-z0-9_+-]+:)|(\*[^*\n]+\*)|(_[^_\n]+_)|(~[^~\n]+~)/g;

function inline(text, into) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) into.append(unescapeSlack(text.slice(last, match.index)));
    const [whole, link, code, emoji, bold, italic] = match;
    if (link) into.append(angle(whole));
    else if (code) into.append(el("code", {}, unescapeSlack(code.slice(1, -1))));
    else if (emoji) {
      const name = emoji.slice(1, -1);
      into.append(EMOJI[name] ? el("span", { class: "emoji", title: emoji }, EMOJI[name]) : emoji);
    }
    else {
      const tag = bold ? "b" : italic ? "i" : "s";
      const node = el(tag);
      inline(whole.slice(1, -1), node);
      into.append(node);
    }
    last = match.index + whole.length;
  }
  if (last < text.length) into.append(unescapeSlack(text.slice(last)));
}

function mrkdwn(text) {
  const box = el("div", { class: "mrkdwn" });
  const parts = String(text).split("```");
  parts.forEach((part, index) => {
    if (index % 2 === 1) {
      box.append(el("pre", {}, unescapeSlack(part.replace(/^\n/, ""))));
      return;
    }
    const lines = part.split("\n");
    lines.forEach((line, n) => {
      if (line.startsWith("&gt; ") || line.startsWith("> ")) {
        const quote = el("blockquote");
        inline(line.replace(/^(&gt;|>) /, ""), quote);
        box.append(quote);
        return;
      }
      inline(line, box);
      if (n < lines.length - 1) box.append("\n");
    });
  });
  return box;
}

function textObject(obj) {
  if (!obj) return document.createTextNode("");
  if (obj.type === "mrkdwn") return mrkdwn(obj.text || "");
  return el("span", { class: "plain" }, obj.text || "");
}

function plain(obj) {
  return obj && typeof obj === "object" ? String(obj.text || "") : String(obj || "");
}

// ---- Block Kit ----------------------------------------------------------------------------

// ctx: {kind: "message", channel, ts} or {kind: "view", view} (modal or Home tab)
function renderBlocks(blocks, ctx) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks || []) box.append(renderBlock(block, ctx));
  return box;
}

function renderBlock(block, ctx) {
  const wrap = el("div", { class: `block block-${block.type}`, dataset: { blockId: block.block_id || "" } });
  switch (block.type) {
    case "header":
      wrap.append(el("h3", {}, plain(block.text)));
      break;
    case "section": {
      const main = el("div", { class: "section-main" });
      if (block.text) main.append(textObject(block.text));
      if (block.fields) {
        main.append(el("div", { class: "fields" }, block.fields.map((f) => textObject(f))));
      }
      const row = el("div", { class: "section" }, main);
      if (block.accessory) row.append(renderElement(block.accessory, block, ctx));
      wrap.append(row);
      break;
    }
    case "context":
      wrap.append(el("div", { class: "context" }, (block.elements || []).map((e) =>
        e.type === "image" ? el("span", { class: "image-alt" }, e.alt_text || "") : textObject(e))));
      break;
    case "divider":
      wrap.append(el("hr", { class: "divider" }));
      break;
    case "actions":
      wrap.append(el("div", { class: "actions" },
        (block.elements || []).map((e) => renderElement(e, block, ctx))));
      break;
    case "input":
      wrap.append(renderInput(block, ctx));
      break;
    case "image":
      wrap.append(el("div", { class: "image-alt" }, `[image: ${block.alt_text || ""}]`));
      break;
    case "rich_text":
      wrap.append(el("div", { class: "mrkdwn" }, richText(block)));
      break;
    default:
      wrap.append(el("div", { class: "image-alt" }, `[${block.type} block]`));
  }
  return wrap;
}

function richText(node) {
  if (!node || typeof node !== "object") return "";
  if (typeof node.text === "string") return node.text;
  if (node.type === "user") return "@" + ((person(node.user_id) || {}).real_name || node.user_id);
  if (node.type === "link") return node.text || node.url || "";
  return (node.elements || []).map(richText).join("");
}

function optionsOf(element) {
  const flat = [...(element.options || [])];
  for (const group of element.option_groups || []) flat.push(...(group.options || []));
  return flat;
}

function act(element, block, ctx, value) {
  const base = { block_id: block.block_id, action_id: element.action_id, value };
  if (ctx.kind === "view") {
    return post("/sandbox/action", { ...base, view_id: ctx.view.id, values: collectValues(ctx.view) });
  }
  forget(ctx.channel, ctx.ts); // its inputs may now differ from what the server has
  return post("/sandbox/action", { ...base, channel: ctx.channel, ts: ctx.ts });
}

function renderElement(element, block, ctx) {
  const usable = (value) => act(element, block, ctx, value);
  switch (element.type) {
    case "button": {
      const style = element.style === "primary" ? " primary" : element.style === "danger" ? " danger" : "";
      const button = el("button", {
        type: "button", class: "btn" + style, text: plain(element.text),
        dataset: { actionId: element.action_id || "" },
      });
      button.addEventListener("click", () => {
        if (element.url) {
          const href = safeHref(element.url);
          if (href) window.open(href, "_blank", "noopener,noreferrer");
        }
        if (element.confirm) confirmThen(element.confirm, () => usable(element.value));
        else usable(element.value);
      });
      return button;
    }
    case "static_select":
    case "overflow":
    case "users_select":
    case "channels_select":
    case "conversations_select": {
      const select = selectFor(element);
      if (ctx.kind === "message" || block.type !== "input") {
        select.addEventListener("change", () => {
          const value = select.value;
          if (element.type === "overflow") select.value = ""; // a menu: nothing stays picked
          if (!value) return;
          const chosen = () => usable(value);
          if (element.confirm) confirmThen(element.confirm, chosen);
          else chosen();
        });
      }
      return select;
    }
    case "checkboxes":
    case "radio_buttons":
      return choices(element, block, ctx, usable);
    case "datepicker":
    case "timepicker":
    case "datetimepicker": {
      const picker = pickerFor(element);
      if (block.type !== "input") {
        picker.addEventListener("change", () => {
          const value = pickerValue(picker);
          if (value !== null) usable(value);
        });
      }
      return picker;
    }
    default:
      return inputElement(element);
  }
}

// What a select offers: its options, or the workspace's people or channels.
function offered(element) {
  if (/users_select$/.test(element.type)) {
    return app.state.people.filter((p) => !p.is_bot).map((p) => ({ value: p.id, text: p.real_name }));
  }
  if (/(conversations|channels)_select$/.test(element.type)) {
    return app.state.channels.map((c) => ({ value: c.id, text: "#" + c.name }));
  }
  return optionsOf(element).map((o) => ({ value: o.value, text: plain(o.text) }));
}

function initially(element) {
  return new Set([].concat(
    element.initial_option ? [element.initial_option.value] : [],
    (element.initial_options || []).map((o) => o.value),
    element.initial_user || [], element.initial_users || [],
    element.initial_conversation || [], element.initial_channel || [],
    element.initial_conversations || [], element.initial_channels || [],
  ));
}

function selectFor(element) {
  const select = el("select", {
    dataset: { actionId: element.action_id || "", type: element.type },
    "aria-label": plain(element.placeholder) || element.action_id || element.type,
  });
  select.append(el("option", { value: "", text: element.type === "overflow" ? "⋯" : plain(element.placeholder) || "Choose…" }));
  const initial = initially(element);
  for (const option of offered(element)) {
    select.append(el("option", { value: option.value, text: option.text, selected: initial.has(option.value) }));
  }
  return select;
}

// A multi-select, drawn as a list to tick (no Ctrl-click to learn).
function multiSelect(element) {
  const box = el("div", { class: "choices multi", role: "group", dataset: { actionId: element.action_id || "", type: element.type } });
  const initial = initially(element);
  for (const option of offered(element)) {
    box.append(el("label", {},
      el("input", { type: "checkbox", value: option.value, checked: initial.has(option.value) }),
      el("span", {}, option.text)));
  }
  return box;
}

function choices(element, block, ctx, usable) {
  const box = el("div", { class: "choices", dataset: { actionId: element.action_id || "", type: element.type } });
  const initial = new Set([].concat(
    element.initial_option ? [element.initial_option.value] : [],
    (element.initial_options || []).map((o) => o.value),
  ));
  const kind = element.type === "checkboxes" ? "checkbox" : "radio";
  const name = `${block.block_id}/${element.action_id}`;
  for (const option of element.options || []) {
    const input = el("input", { type: kind, name, value: option.value, checked: initial.has(option.value) });
    const label = el("label", {}, input, el("span", {}, textObject(option.text),
      option.description ? el("div", { class: "choice-description" }, plain(option.description)) : null));
    if (block.type !== "input") {
      input.addEventListener("change", () => {
        const picked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        usable(kind === "checkbox" ? picked : picked[0]);
      });
    }
    box.append(label);
  }
  return box;
}

function pickerFor(element) {
  const zone = myZone();
  const data = { actionId: element.action_id || "", type: element.type };
  if (element.type === "datepicker") {
    return el("input", { type: "date", value: element.initial_date || "", dataset: data, "aria-label": plain(element.placeholder) || "date" });
  }
  if (element.type === "timepicker") {
    return el("input", { type: "time", value: element.initial_time || "", dataset: data, "aria-label": plain(element.placeholder) || "time" });
  }
  let day = "";
  let time = "";
  if (element.initial_date_time) {
    const p = wallParts(new Date(element.initial_date_time * 1000), zone);
    day = `${p.year}-${p.month}-${p.day}`;
    time = `${p.hour}:${p.minute}`;
  }
  return el("span", { class: "dtp", dataset: data },
    el("input", { type: "date", value: day, "aria-label": "date" }),
    el("input", { type: "time", value: time, "aria-label": "time" }),
    el("span", { class: "hint", text: zone }));
}

function pickerValue(node) {
  if (node.dataset.type === "datetimepicker") {
    const [dayInput, timeInput] = node.querySelectorAll("input");
    if (!dayInput.value || !timeInput.value) return null;
    const [y, m, d] = dayInput.value.split("-").map(Number);
    const [h, mi] = timeInput.value.split(":").map(Number);
    return zonedToEpoch(y, m, d, h, mi, myZone());
  }
  return node.value || null;
}

function inputElement(element) {
  const data = { actionId: element.action_id || "", type: element.type };
  const placeholder = plain(element.placeholder);
  if (element.type === "plain_text_input" && element.multiline) {
    return el("textarea", { rows: 3, value: element.initial_value || "", placeholder, maxLength: element.max_length || undefined, dataset: data });
  }
  if (element.type === "multi_static_select" || element.type === "multi_users_select"
      || element.type === "multi_conversations_select" || element.type === "multi_channels_select") {
    return multiSelect(element);
  }
  const types = { number_input: "number", email_text_input: "email", url_text_input: "url" };
  if (types[element.type] || element.type === "plain_text_input") {
    return el("input", {
      type: types[element.type] || "text", value: element.initial_value || "", placeholder,
      maxLength: element.max_length || undefined, dataset: data,
    });
  }
  return el("span", { class: "image-alt", dataset: data }, `[${element.type}]`);
}

function renderInput(block, ctx) {
  const element = block.element || {};
  const id = `input-${block.block_id}`;
  const field = renderElement(element, block, ctx);
  field.id = id;
  field.removeAttribute("aria-label"); // named by its label, as Slack's inputs are
  if (field.getAttribute("role") === "group") field.setAttribute("aria-labelledby", `label-${block.block_id}`);
  const label = el("label", { class: "input-label", htmlFor: id, id: `label-${block.block_id}` }, plain(block.label),
    block.optional ? el("span", { class: "optional" }, " (optional)") : null);
  return el("div", { class: "input-block", dataset: { inputBlock: block.block_id } },
    label, field,
    block.hint ? el("div", { class: "hint" }, plain(block.hint)) : null,
    el("div", { class: "field-error", role: "alert", dataset: { errorFor: block.block_id } }));
}

// What the person entered in a modal's inputs, by block id (null: left empty).
function collectValues(view) {
  const values = {};
  const form = document.querySelector(`[data-view-id="${CSS.escape(view.id)}"]`);
  if (!form) return values;
  for (const block of view.blocks || []) {
    if (block.type !== "input") continue;
    const node = form.querySelector(`[data-input-block="${CSS.escape(block.block_id)}"] [data-type]`);
    if (!node) continue;
    values[block.block_id] = readValue(node);
  }
  return values;
}

function readValue(node) {
  const type = node.dataset.type;
  if (node.classList.contains("multi")) {
    return [...node.querySelectorAll("input:checked")].map((i) => i.value);
  }
  if (node.tagName === "SELECT") {
    if (node.multiple) return [...node.selectedOptions].map((o) => o.value);
    return node.value || null;
  }
  if (type === "checkboxes") return [...node.querySelectorAll("input:checked")].map((i) => i.value);
  if (type === "radio_buttons") {
    const picked = node.querySelector("input:checked");
    return picked ? picked.value : null;
  }
  if (type === "datepicker" || type === "timepicker" || type === "datetimepicker") return pickerValue(node);
  return node.value === "" ? null : node.value;
}

// ---- dialogs ----------------------------------------------------------------------------

function confirmThen(confirm, then) {
  const layer = $("confirm-layer");
  const close = () => layer.replaceChildren();
  const yes = el("button", {
    type: "button", class: "btn " + (confirm.style === "danger" ? "danger" : "primary"),
    text: plain(confirm.confirm) || "Yes", onclick: () => { close(); then(); },
  });
  const no = el("button", { type: "button", class: "btn", text: plain(confirm.deny) || "Cancel", onclick: close });
  const dialog = el("div", { class: "dialog", role: "alertdialog", "aria-label": plain(confirm.title) || "Are you sure?" },
    el("h2", {}, plain(confirm.title) || "Are you sure?"),
    textObject(confirm.text),
    el("div", { class: "dialog-foot" }, no, yes));
  layer.replaceChildren(el("div", { class: "overlay" }, dialog));
  yes.focus();
}

function renderModal() {
  const layer = $("modal-layer");
  const stack = (app.state && app.state.modals) || [];
  const view = stack[stack.length - 1];
  if (!view) {
    layer.replaceChildren();
    app.shownModal = null;
    return;
  }
  const key = `${view.id}/${view.hash}`;
  if (app.shownModal === key) return; // the person may be typing in it
  const kept = app.shownModal && app.shownModal.startsWith(view.id + "/") ? collectValues(view) : {};
  app.shownModal = key;
  const ctx = { kind: "view", view };
  const close = () => post("/sandbox/close", { view_id: view.id, values: collectValues(view) });
  const submit = el("button", { type: "submit", class: "btn primary", text: plain(view.submit) });
  const form = el("form", { class: "modal", role: "dialog", "aria-label": plain(view.title), dataset: { viewId: view.id }, novalidate: true },
    el("div", { class: "modal-head" },
      el("h2", {}, plain(view.title)),
      stack.length > 1 ? el("span", { class: "stack-depth" }, `${stack.length} of ${stack.length}`) : null,
      el("button", { type: "button", class: "modal-x", "aria-label": "Close", text: "×", onclick: close })),
    el("div", { class: "modal-body" }, renderBlocks(view.blocks, ctx)),
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "btn", text: plain(view.close) || "Cancel", onclick: close }),
      view.submit ? submit : null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = collectValues(view);
    const missing = {};
    for (const block of view.blocks || []) {
      const value = values[block.block_id];
      if (block.type === "input" && !block.optional && (value === null || value === undefined || (Array.isArray(value) && !value.length))) {
        missing[block.block_id] = "Please complete this required field.";
      }
    }
    if (Object.keys(missing).length) return showErrors(form, missing);
    submit.disabled = true;
    const answer = await post("/sandbox/submit", { view_id: view.id, values });
    submit.disabled = false;
    if (answer && answer.errors) showErrors(form, answer.errors);
  });
  layer.replaceChildren(el("div", { class: "overlay" }, form));
  for (const [blockId, value] of Object.entries(kept)) restoreValue(form, blockId, value);
}

function restoreValue(form, blockId, value) {
  const node = form.querySelector(`[data-input-block="${CSS.escape(blockId)}"] [data-type]`);
  if (!node || value === null) return;
  if (node.tagName === "SELECT") {
    const wanted = new Set([].concat(value));
    for (const option of node.options) option.selected = wanted.has(option.value);
  } else if (node.tagName === "INPUT" || node.tagName === "TEXTAREA") {
    node.value = value;
  } else if (node.classList.contains("multi")) {
    const wanted = new Set([].concat(value));
    for (const box of node.querySelectorAll("input")) box.checked = wanted.has(box.value);
  }
}

function showErrors(form, errors) {
  for (const box of form.querySelectorAll("[data-error-for]")) {
    const message = errors[box.dataset.errorFor] || "";
    box.textContent = message;
    box.closest(".input-block").classList.toggle("has-error", Boolean(message));
  }
}

// ---- the page ----------------------------------------------------------------------------

function initials(name) {
  return (name || "?").split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
}

function stamp(ts) {
  return fmt(new Date(Number(ts) * 1000), myZone(), { hour: "numeric", minute: "2-digit" });
}

function renderMessage(message, channel, ephemeral) {
  const from = person(message.user) || { real_name: message.user || "someone", is_bot: Boolean(message.bot_id) };
  const isBot = Boolean(message.bot_id) || from.is_bot;
  const ctx = { kind: "message", channel, ts: message.ts };
  const body = el("div", { class: "message-body" },
    ephemeral ? el("div", { class: "only-you" }, "Only visible to you") : null,
    el("div", {},
      el("span", { class: "sender" }, isBot ? "releasebot" : from.real_name),
      isBot ? el("span", { class: "badge" }, "APP") : null,
      el("span", { class: "stamp" }, stamp(message.ts)),
      message.edited ? el("span", { class: "edited" }, "(edited)") : null));
  if (message.blocks && message.blocks.length) body.append(renderBlocks(message.blocks, ctx));
  else if (message.text) body.append(mrkdwn(message.text));
  for (const attachment of message.attachments || []) {
    const box = el("div", { class: "attachment" });
    if (attachment.color) box.style.borderLeftColor = /^#?[0-9a-f]{3,6}$/i.test(attachment.color) ? (attachment.color.startsWith("#") ? attachment.color : "#" + attachment.color) : "";
    if (attachment.blocks) box.append(renderBlocks(attachment.blocks, ctx));
    else if (attachment.text || attachment.fallback) box.append(mrkdwn(attachment.text || attachment.fallback));
    body.append(box);
  }
  for (const file of message.files || []) {
    body.append(el("div", { class: "attachment" }, `📎 ${file.title || file.name} (${file.size} bytes)`));
  }
  return el("article", {
    class: "message" + (ephemeral ? " ephemeral" : ""),
    dataset: { ts: message.ts, ephemeral: ephemeral ? "true" : "false" },
  }, el("div", { class: "avatar" + (isBot ? " bot" : "") }, isBot ? "RB" : initials(from.real_name)), body);
}

function forget(channel, ts) {
  for (const key of [...app.drawn.keys()]) {
    if (key.startsWith(`${app.me}/${channel}/m/${ts}/`)) app.drawn.delete(key);
  }
}

// The node drawn before under this key while its shape is unchanged, else a new one.
function drawn(key, shape, make, keep) {
  const known = app.drawn.get(key);
  const node = known && known.shape === shape ? known.node : make();
  keep.set(key, { shape, node });
  return node;
}

// Makes parent's children `wanted` without moving a node that is already in its place:
// a moved or replaced node loses a click whose press it received.
function reconcile(parent, wanted) {
  wanted.forEach((node, index) => {
    const current = parent.childNodes[index];
    if (current !== node) parent.insertBefore(node, current || null);
  });
  while (parent.childNodes.length > wanted.length) parent.lastChild.remove();
}

function renderTimeline() {
  const timeline = $("timeline");
  const keepBottom = timeline.scrollTop + timeline.clientHeight >= timeline.scrollHeight - 40;
  const keptScroll = timeline.scrollTop;
  const state = app.state;
  let content;
  if (app.where === "home") {
    content = state.home
      ? el("div", { class: "message" }, el("div", { class: "message-body" }, renderBlocks(state.home.blocks, { kind: "view", view: state.home })))
      : el("div", { class: "empty" }, "The Home tab is loading…");
  } else {
    const where = app.where;
    const conversation = state.conversations[where] || { messages: [], ephemerals: [] };
    const items = [
      ...conversation.messages.map((m) => ({ m, eph: false })),
      ...conversation.ephemerals.map((m) => ({ m, eph: true })),
    ].sort((a, b) => Number(a.m.ts) - Number(b.m.ts));
    const replies = new Map();
    const top = [];
    for (const item of items) {
      const parent = item.m.thread_ts;
      if (parent && parent !== item.m.ts && items.some((i) => i.m.ts === parent)) {
        if (!replies.has(parent)) replies.set(parent, []);
        replies.get(parent).push(item);
      } else top.push(item);
    }
    // Unchanged messages keep their nodes (keyed by viewer, channel and ts), so a message
    // arriving or changing elsewhere doesn't swallow a click in progress.
    const prefix = `${app.me}/${where}/`;
    const keep = new Map();
    const message = (item) => drawn(`${prefix}m/${item.m.ts}/${item.eph}`, JSON.stringify(item.m),
      () => renderMessage(item.m, where, item.eph), keep);
    const list = drawn(`${prefix}list`, "", () => el("div", { class: "messages" }), keep);
    const wanted = [];
    for (const item of top) {
      wanted.push(message(item));
      const thread = replies.get(item.m.ts);
      if (thread) {
        const count = `${thread.length} ${thread.length === 1 ? "reply" : "replies"}`;
        wanted.push(drawn(`${prefix}count/${item.m.ts}`, count, () => el("div", { class: "thread-count" }, count), keep));
        const box = drawn(`${prefix}thread/${item.m.ts}`, "", () => el("div", { class: "thread", dataset: { threadTs: item.m.ts } }), keep);
        reconcile(box, thread.map(message));
        wanted.push(box);
      }
    }
    reconcile(list, wanted);
    for (const [key, value] of app.drawn) {
      if (!key.startsWith(prefix)) keep.set(key, value);
    }
    app.drawn = keep;
    content = top.length ? list : el("div", { class: "empty" }, "No messages yet. Type /release help below.");
  }
  if (timeline.childNodes.length !== 1 || timeline.firstChild !== content) timeline.replaceChildren(content);
  timeline.scrollTop = keepBottom ? timeline.scrollHeight : keptScroll;
}

function renderRefusals() {
  const box = $("refusals");
  const refusals = app.state.refusals || [];
  box.hidden = !refusals.length;
  box.replaceChildren(
    el("strong", { class: "refusal" }, `Slack refused ${refusals.length} of the bot's calls:`),
    ...refusals.map((r) => el("div", { class: "refusal" },
      `${r.method}${r.channel ? " in " + channelName(r.channel) : ""}: ${r.error} `,
      el("code", {}, (r.detail || []).join("\n")))));
}

// The newest message (or reply, or one only you see) in a channel.
function latest(channelId) {
  const conversation = app.state.conversations[channelId];
  if (!conversation) return 0;
  return Math.max(0, ...conversation.messages.map((m) => Number((m.edited && m.edited.ts) || m.ts)),
    ...conversation.ephemerals.map((m) => Number(m.ts)));
}

// Channels with something new since this person last looked are bold, as in Slack.
function unread(channelId) {
  const key = `${app.me}/${channelId}`;
  if (app.where === channelId || !(key in app.seen)) {
    app.seen[key] = latest(channelId);
    return false;
  }
  return latest(channelId) > app.seen[key];
}

function navButton(label, where) {
  const isNew = where !== "home" && unread(where);
  return el("li", {}, el("button", {
    type: "button", text: label, "aria-current": app.where === where ? "true" : "false",
    class: isNew ? "unread" : "", onclick: () => go(where),
  }));
}

function renderSidebar() {
  const state = app.state;
  const select = $("person");
  if (!select.options.length) {
    for (const p of state.people.filter((x) => !x.is_bot)) {
      select.append(el("option", { value: p.id, text: `${p.real_name} (${p.role})` }));
    }
  }
  select.value = app.me;
  const me = person(app.me);
  $("person-info").textContent = `${me.real_name} · @${me.name} · ${me.tz}`;
  $("apps").replaceChildren(navButton("releasebot · Home", "home"));
  $("channels").replaceChildren(...state.channels.filter((c) => c.kind !== "dm").map((c) =>
    navButton(c.kind === "private" ? `${c.name} (private)` : "# " + c.name, c.id)));
  $("dms").replaceChildren(...state.channels.filter((c) => c.kind === "dm").map((c) => navButton("● " + c.name, c.id)));
  $("people").replaceChildren(
    ...state.people.filter((p) => !p.is_bot).map((p) => el("li", {}, `${p.real_name} `, el("span", { class: "tz" }, p.tz))),
    ...state.groups.map((g) => el("li", {}, `@${g.handle}: `, el("span", { class: "tz" },
      g.users.map((u) => (person(u) || { real_name: u }).real_name).join(", ")))));
}

function render() {
  const state = app.state;
  if (app.where !== "home" && !state.channels.some((c) => c.id === app.where)) app.where = state.channels[0].id;
  renderSidebar();
  const channel = state.channels.find((c) => c.id === app.where);
  $("title").textContent = app.where === "home" ? "releasebot" : (channel.kind === "dm" ? channel.name : (channel.kind === "private" ? `${channel.name} (private)` : "#" + channel.name));
  $("subtitle").textContent = app.where === "home" ? "Home" : `you are ${person(app.me).real_name}`;
  const input = $("composer-input");
  $("composer").hidden = app.where === "home";
  input.placeholder = app.where === "home" ? "" : `Message ${channel.kind === "dm" ? channel.name : "#" + channel.name} — type /release …`;
  renderRefusals();
  renderTimeline();
  renderModal();
}

async function refresh() {
  if (app.fetching) {
    app.again = true;
    return app.fetching;
  }
  app.fetching = (async () => {
    try {
      do {
        app.again = false;
        const response = await fetch(`/sandbox/state?user=${encodeURIComponent(app.me)}`);
        if (!response.ok) throw new Error(`state: ${response.status}`);
        const state = await response.json();
        if (state.me !== app.me) { app.again = true; continue; }
        app.state = state;
        render();
      } while (app.again);
    } finally {
      app.fetching = null;
    }
  })();
  return app.fetching;
}

function go(where) {
  if (app.state && where !== "home") app.seen[`${app.me}/${where}`] = latest(where);
  app.where = where;
  render();
  if (where === "home") post("/sandbox/home", {});
}

function start() {
  const params = new URLSearchParams(window.location.search);
  app.me = params.get("as") || "U0ADA";
  $("person").addEventListener("change", (event) => {
    app.me = event.target.value;
    app.shownModal = null;
    $("confirm-layer").replaceChildren();
    refresh().then(() => { if (app.where === "home") post("/sandbox/home", {}); });
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    input.disabled = true;
    const answer = await post("/sandbox/command", { channel: app.where, text });
    input.disabled = false;
    if (answer) input.value = "";
    input.focus();
  });
  const events = new EventSource("/sandbox/events");
  events.addEventListener("change", () => { if (app.state) refresh(); });
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
