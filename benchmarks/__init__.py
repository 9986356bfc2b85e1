"""Benchmarks of the engine (run as scripts; see README.md). A package so that tests can
import the peer methods of `benchmarks.peers`."""
