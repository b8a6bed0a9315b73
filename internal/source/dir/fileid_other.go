//go:build !unix

package dir

import "io/fs"

// fileKey identifies a file or directory whatever name it is reached by.
type fileKey struct{}

// keyOf cannot tell a file's identity here: directories reached twice
// through links are read twice (loops are still found through the
// directories the walk is inside).
func keyOf(fs.FileInfo) (fileKey, bool) { return fileKey{}, false }
