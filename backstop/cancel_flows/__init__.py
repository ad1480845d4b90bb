"""Cancel flows: the document, its validator, templates, storage, versions and offer policies."""
