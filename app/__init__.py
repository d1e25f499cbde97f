"""The Qt editor: windows, widgets, dialogs and workers. Calls the engine only."""
