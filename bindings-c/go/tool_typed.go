package copilot

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// DefineTool defines a tool whose arguments decode into T, with the JSON schema of its
// parameters derived from T by reflection (json tags name the properties; a field without
// omitempty that is not a pointer is required; a `description:"…"` tag describes a property,
// an `enum:"a,b"` tag lists its values). The handler's result R is sent as Tool.Handler's is
// (a string, a ToolResult, or any value the model sees as JSON text).
//
//	type weatherArgs struct {
//		City string `json:"city" description:"The city"`
//		Days *int   `json:"days,omitempty"`
//	}
//	tool := copilot.DefineTool("get_weather", "Get the weather",
//		func(a weatherArgs, inv copilot.ToolInvocation) (string, error) { return "Sunny in " + a.City, nil })
func DefineTool[T any, R any](name, description string, handler func(args T, inv ToolInvocation) (R, error)) Tool {
	return Tool{
		Name:        name,
		Description: description,
		Parameters:  ToolSchema[T](),
		Handler: func(inv ToolInvocation) (any, error) {
			var args T
			if len(inv.Arguments) > 0 && string(inv.Arguments) != "null" {
				if err := json.Unmarshal(inv.Arguments, &args); err != nil {
					return nil, fmt.Errorf("the arguments of %s do not fit its parameters: %w", name, err)
				}
			}
			return handler(args, inv)
		},
	}
}

// ToolSchema is the JSON schema DefineTool derives from T (an object schema for a struct).
func ToolSchema[T any]() map[string]any {
	t := reflect.TypeOf((*T)(nil)).Elem()
	s := schemaOf(t, map[reflect.Type]bool{})
	if s["type"] != "object" {
		// Tool parameters are an object: a non-struct T is the one property "value".
		return map[string]any{"type": "object", "properties": map[string]any{"value": s}, "required": []string{"value"}}
	}
	return s
}

func schemaOf(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Time{}) {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == reflect.TypeOf(json.RawMessage{}) {
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"} // recursive: left open
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		required := []string{}
		addFields(t, seen, props, &required)
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

func addFields(t reflect.Type, seen map[reflect.Type]bool, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addFields(f.Type, seen, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := schemaOf(f.Type, seen)
		if d := f.Tag.Get("description"); d != "" {
			p["description"] = d
		}
		if e := f.Tag.Get("enum"); e != "" {
			p["enum"] = strings.Split(e, ",")
		}
		props[name] = p
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
