"""rl_editor.feedback"""
