@echo off
rem Emusify at Windows log-on: `emusify service install` puts a copy with the full path of
rem your Python in the Startup folder; this one works when emusify is on PATH.
start "Emusify" /min emusify run
