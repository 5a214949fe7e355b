"""A benchmark that lives outside rayeval, for the test that registers one through an entry point."""
