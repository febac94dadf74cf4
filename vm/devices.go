package main

// guestDevices are the devices QEMU gives every guest besides the serial
// ports: an Intel e1000 network card (no network behind it), so that
// the coldplug tests find a PCI device whose driver is a module
// (tests/modprobe_test.go, TestModprobeColdplug).
var guestDevices = []string{"-device", "e1000"}
