"""Observability as code: alert and SLO rules, Alertmanager, Grafana dashboards and the stack's values."""
