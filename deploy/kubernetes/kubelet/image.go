package kubelet

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Image is what a Containerfile says of how its container runs.
type Image struct {
	Env        []string // KEY=value, in order
	Entrypoint []string
	Cmd        []string
	User       string
}

// ReadContainerfile reads the ENV, ENTRYPOINT, CMD and USER instructions of
// a Containerfile (exec-form JSON arrays; ENV as KEY=value pairs, lines
// continued with a backslash). Another form of them is an error, not a
// guess.
func ReadContainerfile(file string) (*Image, error) {
	b, err := os.ReadFile(file) //nolint:gosec // G304: the spec names the Containerfile
	if err != nil {
		return nil, err
	}
	img := &Image{}
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, l := range logical {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" || strings.ContainsAny(v, `"'$`) {
					return nil, fmt.Errorf("%s: ENV %q: only unquoted KEY=value pairs are read", file, kv)
				}
				img.Env = append(img.Env, k+"="+v)
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &img.Entrypoint); err != nil {
				return nil, fmt.Errorf("%s: ENTRYPOINT is not an exec-form JSON array: %w", file, err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &img.Cmd); err != nil {
				return nil, fmt.Errorf("%s: CMD is not an exec-form JSON array: %w", file, err)
			}
		case "USER":
			img.User = rest
		}
	}
	return img, nil
}
