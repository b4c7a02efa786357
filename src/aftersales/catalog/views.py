"""HTML views (thin: parse, authorise, call a service or selector, render)."""
