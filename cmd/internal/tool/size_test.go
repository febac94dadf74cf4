package tool

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // 0: an error
	}{
		{"134217728", 128 << 20},
		{"512M", 512 << 20},
		{"2G", 2 << 30},
		{"64k", 64 << 10},
		{"1GiB", 1 << 30},
		{"0", 0},
		{"-5M", 0},
		{"M", 0},
		{"9999999999G", 0},
		{"12X", 0},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}
