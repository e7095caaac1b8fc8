// Replaced by the dashboard script.
