//go:build unix

package dir

import (
	"io/fs"
	"syscall"
)

// fileKey identifies a file or directory whatever name it is reached by.
type fileKey struct{ dev, ino uint64 }

// keyOf returns the device and inode of info.
func keyOf(info fs.FileInfo) (fileKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: st.Ino}, true
}
