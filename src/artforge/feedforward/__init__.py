"""stylize"""
