"""Articles, categories, tags and authors; the editor; imports from the publisher's site."""
