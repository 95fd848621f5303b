"""rl_editor.reward"""
