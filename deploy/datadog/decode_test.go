package datadog_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// monitorFile is one decoded monitor and the file it came from.
type monitorFile struct {
	Name    string // file name, e.g. polling-errors.json
	Monitor datadogV1.Monitor
}

// loadMonitors decodes every monitors/*.json strictly.
func loadMonitors(dir string) ([]monitorFile, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no monitors in %s", dir)
	}
	sort.Strings(files)
	out := make([]monitorFile, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m datadogV1.Monitor
		if err := decodeStrict(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, monitorFile{Name: filepath.Base(f), Monitor: m})
	}
	return out, nil
}

// loadDashboard decodes one dashboard file strictly.
func loadDashboard(file string) (*datadogV1.Dashboard, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d datadogV1.Dashboard
	if err := decodeStrict(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &d, nil
}

// decodeStrict decodes b into v, a Datadog model, and refuses what the
// model did not understand: the client's models never fail on an unknown
// field or an invalid enum value, they keep the raw JSON in
// AdditionalProperties (unknown fields) or UnparsedObject (a value that fits
// no model, e.g. a misspelt widget type). Both are checked at every level.
// Then the model, encoded again, must equal the file, so that nothing the
// model read was dropped on the way either.
func decodeStrict(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if left := unparsed(reflect.ValueOf(v), "$"); len(left) > 0 {
		return fmt.Errorf("not understood by the Datadog API client's models: %v", left)
	}
	again, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var want, got any
	if err := json.Unmarshal(b, &want); err != nil {
		return err
	}
	if err := json.Unmarshal(again, &got); err != nil {
		return err
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("changed by a decode and encode through the Datadog models:\nfile:  %s\nmodel: %s", b, again)
	}
	return nil
}

// unparsed lists the paths under v whose UnparsedObject or
// AdditionalProperties field holds something.
func unparsed(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = append(out, unparsed(v.Elem(), path)...)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = append(out, unparsed(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			out = append(out, unparsed(iter.Value(), fmt.Sprintf("%s[%v]", path, iter.Key()))...)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f, name := v.Field(i), t.Field(i).Name
			if (name == "UnparsedObject" || name == "AdditionalProperties") && !isEmpty(f) {
				out = append(out, fmt.Sprintf("%s.%s = %v", path, name, f))
				continue
			}
			out = append(out, unparsed(f, path+"."+name)...)
		}
	default:
	}
	return out
}

// isEmpty is true for a nil or zero-length pointer, interface, map or slice.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	default:
		return v.IsZero()
	}
}
