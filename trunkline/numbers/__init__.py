"""Phone numbers: rows, E.164, local time zones, and the business verification buying needs."""
