// Package rails runs VA.gov's Rails side of a database where the tests and
// the demo need the real thing rather than a copy: Debian's ActiveRecord
// (ruby-activerecord, ruby-pg) and Flipper (ruby-flipper), which
// scripts/rails.sh installs, on the Ruby files of this folder:
//
//   - schema.rb, loaded by load_schema.rb: VA.gov's tables as vets-api's
//     db/schema.rb makes them (integer keys on the Rails 4.2-era tables,
//     timestamp(6), the indexes, Flipper's tables);
//   - models.rb and read_uploads.rb: the three tables read back through
//     ActiveRecord models, as vets-api reads what the worker wrote;
//   - flipper.rb: a feature turned on and off through Flipper's ActiveRecord
//     adapter, as operators do in Flipper's UI.
//
// The worker's binary never imports this package.
package rails

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Timeout bounds one Ruby run (loading ActiveRecord takes about a second).
const Timeout = 2 * time.Minute

// Dir is the folder of the Ruby files, found from this source file: the
// package serves tests and scripts, which run from the source tree.
func Dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("rails: cannot tell where the Ruby files are")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "schema.rb")); err != nil {
		return "", fmt.Errorf("rails: the Ruby files are not beside %s: %w", file, err)
	}
	return dir, nil
}

// Ruby runs script, one of this folder's Ruby files, with args, against the
// database of databaseURL (DATABASE_URL), and returns what it printed on
// standard output. An error carries its standard error.
func Ruby(ctx context.Context, databaseURL, script string, args ...string) ([]byte, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ruby"); err != nil {
		return nil, errors.New("rails: ruby is required (scripts/rails.sh installs Debian's ruby-activerecord, ruby-pg and ruby-flipper)")
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ruby", append([]string{filepath.Join(dir, script)}, args...)...) //nolint:gosec // G204: a Ruby file of this folder, run by tests and scripts with their own arguments
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + databaseURL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("rails: ruby %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// LoadSchema makes VA.gov's tables (schema.rb) with ActiveRecord in the
// existing database of databaseURL, as `rails db:schema:load` does.
func LoadSchema(ctx context.Context, databaseURL string) error {
	_, err := Ruby(ctx, databaseURL, "load_schema.rb")
	return err
}
