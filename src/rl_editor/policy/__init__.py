"""rl_editor.policy"""
