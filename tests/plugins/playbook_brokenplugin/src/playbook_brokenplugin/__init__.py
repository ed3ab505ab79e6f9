"""A plugin that cannot be imported (a missing dependency): reported by name, never fatal."""

raise ImportError("playbook_brokenplugin needs the package 'not-installed-anywhere'")
