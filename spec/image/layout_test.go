package image_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociImage is one image of an OCI image layout, as `buildah push oci:`
// writes it: what a registry would serve.
type ociImage struct {
	dir      string
	Manifest ocispec.Manifest
	Config   ocispec.Image
}

// readLayout reads the image tagged tag from the layout in dir.
func readLayout(dir, tag string) (*ociImage, error) {
	var index ocispec.Index
	if err := readJSON(filepath.Join(dir, ocispec.ImageIndexFile), &index); err != nil {
		return nil, err
	}
	img := &ociImage{dir: dir}
	for _, m := range index.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] != tag {
			continue
		}
		if err := readJSON(img.blob(m.Digest), &img.Manifest); err != nil {
			return nil, err
		}
		if err := readJSON(img.blob(img.Manifest.Config.Digest), &img.Config); err != nil {
			return nil, err
		}
		return img, nil
	}
	return nil, fmt.Errorf("no image %q in %s", tag, dir)
}

func (i *ociImage) blob(d digest.Digest) string {
	return filepath.Join(i.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// LayerPath is the file of the n-th layer.
func (i *ociImage) LayerPath(n int) string { return i.blob(i.Manifest.Layers[n].Digest) }

// LayerSize is the compressed size of the n-th layer, as a registry stores it.
func (i *ociImage) LayerSize(n int) int64 { return i.Manifest.Layers[n].Size }

// Entries lists the n-th layer's tar headers, names without a leading "./"
// and directories ending in "/".
func (i *ociImage) Entries(n int) ([]*tar.Header, error) {
	f, err := os.Open(i.LayerPath(n))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch mt := i.Manifest.Layers[n].MediaType; mt {
	case ocispec.MediaTypeImageLayerGzip:
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	case ocispec.MediaTypeImageLayer:
	default:
		return nil, fmt.Errorf("layer of media type %s", mt)
	}
	var out []*tar.Header
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		h.Name = strings.TrimPrefix(h.Name, "./")
		if h.Typeflag == tar.TypeDir && !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
		out = append(out, h)
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
