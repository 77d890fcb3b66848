"""The calendar feed: `/release calendar` links, the .ics writer and its HTTP route."""
