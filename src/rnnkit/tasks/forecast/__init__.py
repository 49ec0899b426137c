"""Forecasting a numeric series: ``rnnkit forecast`` (the next values)."""
