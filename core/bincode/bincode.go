// Package bincode writes Go values in a compact binary form and reads them
// back, for caches that only the same binary reads: the layout follows the
// Go types (a struct is its set fields by position), with no names or
// type descriptions, so a reader
// built from other types must not be handed the bytes (key the cache by
// the binary, as the unit cache does).
//
// It covers what encoding/gob would for plain data (exported struct
// fields, pointers, slices, arrays, maps, strings, booleans and numbers)
// at a fraction of gob's size in the binary. As gob, it reads an empty
// slice back as nil, an empty map as an empty map, and skips unexported
// fields; unlike gob, it keeps a non-nil pointer to a zero value. Interfaces, channels and
// functions are an error.
package bincode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// Marshal encodes v, or what v points to: Unmarshal reads it back into a
// pointer to the same type.
func Marshal(v any) ([]byte, error) {
	e := encoder{}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if err := e.value(rv); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Unmarshal decodes data into the value v points to.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("bincode: Unmarshal needs a non-nil pointer")
	}
	d := decoder{buf: data}
	if err := d.value(rv.Elem()); err != nil {
		return err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("bincode: %d bytes left over", len(d.buf))
	}
	return nil
}

// exported lists the indexes of a struct type's exported fields.
func exported(t reflect.Type) []int {
	var out []int
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			out = append(out, i)
		}
	}
	return out
}

type encoder struct {
	buf    []byte
	fields map[reflect.Type][]int
}

func (e *encoder) uint(u uint64) { e.buf = binary.AppendUvarint(e.buf, u) }

func (e *encoder) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.buf = append(e.buf, 1)
		} else {
			e.buf = append(e.buf, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.uint(math.Float64bits(v.Float()))
	case reflect.String:
		e.uint(uint64(v.Len()))
		e.buf = append(e.buf, v.String()...)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			e.uint(uint64(v.Len()))
			e.buf = append(e.buf, v.Bytes()...)
			return nil
		}
		e.uint(uint64(v.Len()))
		for i := range v.Len() {
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(uint64(v.Len()) + 1)
		it := v.MapRange()
		for it.Next() {
			if err := e.value(it.Key()); err != nil {
				return err
			}
			if err := e.value(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, 0)
			return nil
		}
		e.buf = append(e.buf, 1)
		return e.value(v.Elem())
	case reflect.Struct:
		t := v.Type()
		if e.fields == nil {
			e.fields = make(map[reflect.Type][]int)
		}
		idx, ok := e.fields[t]
		if !ok {
			idx = exported(t)
			e.fields[t] = idx
		}
		// Only the fields that are set, each after its distance from the
		// previous one, and 0 at the end: a unit sets few of its keys.
		last := -1
		for p, i := range idx {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			e.uint(uint64(p - last))
			last = p
			if err := e.value(f); err != nil {
				return fmt.Errorf("%s.%s: %w", t, t.Field(i).Name, err)
			}
		}
		e.uint(0)
	default:
		return fmt.Errorf("bincode: cannot encode a %s", v.Type())
	}
	return nil
}

var errShort = errors.New("bincode: data ends early")

type decoder struct {
	buf    []byte
	fields map[reflect.Type][]int
}

func (d *decoder) uint() (uint64, error) {
	u, n := binary.Uvarint(d.buf)
	if n <= 0 {
		return 0, errShort
	}
	d.buf = d.buf[n:]
	return u, nil
}

// length reads a count of elements, each at least one byte, so that a
// corrupt count cannot make a huge allocation.
func (d *decoder) length() (int, error) {
	u, err := d.uint()
	if err != nil {
		return 0, err
	}
	if u > uint64(len(d.buf)) {
		return 0, errShort
	}
	return int(u), nil
}

func (d *decoder) byte() (byte, error) {
	if len(d.buf) == 0 {
		return 0, errShort
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b, nil
}

func (d *decoder) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		b, err := d.byte()
		if err != nil {
			return err
		}
		v.SetBool(b != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, n := binary.Varint(d.buf)
		if n <= 0 {
			return errShort
		}
		d.buf = d.buf[n:]
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, err := d.uint()
		if err != nil {
			return err
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		u, err := d.uint()
		if err != nil {
			return err
		}
		v.SetFloat(math.Float64frombits(u))
	case reflect.String:
		n, err := d.length()
		if err != nil {
			return err
		}
		v.SetString(string(d.buf[:n]))
		d.buf = d.buf[n:]
	case reflect.Slice:
		n, err := d.length()
		if err != nil {
			return err
		}
		if n == 0 {
			v.SetZero()
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, n)
			copy(b, d.buf)
			d.buf = d.buf[n:]
			v.SetBytes(b)
			return nil
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			if err := d.value(s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			if err := d.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		u, err := d.uint() // 0 for nil, else the count + 1
		if err != nil {
			return err
		}
		if u == 0 {
			v.SetZero()
			return nil
		}
		if u-1 > uint64(len(d.buf)) {
			return errShort
		}
		n := int(u - 1)
		t := v.Type()
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k := reflect.New(t.Key()).Elem()
			if err := d.value(k); err != nil {
				return err
			}
			e := reflect.New(t.Elem()).Elem()
			if err := d.value(e); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		b, err := d.byte()
		if err != nil {
			return err
		}
		if b == 0 {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.value(p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		t := v.Type()
		if d.fields == nil {
			d.fields = make(map[reflect.Type][]int)
		}
		idx, ok := d.fields[t]
		if !ok {
			idx = exported(t)
			d.fields[t] = idx
		}
		p := -1
		for {
			delta, err := d.uint()
			if err != nil {
				return err
			}
			if delta == 0 {
				return nil
			}
			if delta > uint64(len(idx)-p-1) {
				return fmt.Errorf("bincode: %s has no field %d", t, uint64(p)+delta)
			}
			p += int(delta)
			i := idx[p]
			if err := d.value(v.Field(i)); err != nil {
				return fmt.Errorf("%s.%s: %w", t, t.Field(i).Name, err)
			}
		}
	default:
		return fmt.Errorf("bincode: cannot decode a %s", v.Type())
	}
	return nil
}
