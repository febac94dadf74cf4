// Package loadertest holds fixtures for tests of module unloading, shared
// by package loader's tests and those of the commands built on it.
//
// Like net/http/httptest, it is meant for tests only. It does not import
// package loader, so that loader's own tests can use it.
package loadertest
