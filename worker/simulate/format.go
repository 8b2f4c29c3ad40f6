package simulate

import (
	"path/filepath"
	"strings"
)

// PictureFormat says whether a picture can be written to path: a .svg or
// .png file (worker/simulate/picture draws it).
func PictureFormat(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".svg" || ext == ".png"
}
