package engine

import (
	"encoding/json"
	"strings"
)

func jsonUnmarshal(s string, v any) error {
	return json.NewDecoder(strings.NewReader(s)).Decode(v)
}
