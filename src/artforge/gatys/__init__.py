"""gatys"""
