"""rl_editor.rlhf"""
