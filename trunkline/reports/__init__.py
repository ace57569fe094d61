"""Post-call reports: their stored versions and payload, what a call costs, and its analysis."""
