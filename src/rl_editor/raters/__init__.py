"""rl_editor.raters"""
