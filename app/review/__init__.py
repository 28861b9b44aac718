"""Leading-group review: the task × unit matrix and the overdue list."""
