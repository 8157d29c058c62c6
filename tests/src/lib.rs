//! Shared helpers for the workspace integration tests (process clusters on loopback).
