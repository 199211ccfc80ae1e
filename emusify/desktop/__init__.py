"""Desktop front ends and integration: tray icon, icons, display check, start on login."""
