"""Breast-cancer screening across four clinics: data, model and predictions."""
