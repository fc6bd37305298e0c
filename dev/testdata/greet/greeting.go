package main

const greeting = "hello v0"
