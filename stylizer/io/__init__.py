"""Frame readers (videos, image folders, single images) and writers."""
