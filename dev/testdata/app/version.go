package main

const version = "v0"
