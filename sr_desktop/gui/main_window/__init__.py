"""main_window."""
