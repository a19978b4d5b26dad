package io.spindle.app;
