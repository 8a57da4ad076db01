"""Statistics for campaign reports: uplift against the control and the sample-ratio check."""
