"""Knowledge: KB chunks and their performance, index files, versions, the evaluation gate and the
weekly refresh."""
