"""supportloop core library: every rule of the domain lives here (see DESIGN.md)."""
