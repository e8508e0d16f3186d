"""The settings history («Historial de configuración»): who changed which setting, when,
and from what to what, read from Django admin's history (LogEntry) for the models each app
registers as configuration (`selectors.register_setting_kind`)."""
