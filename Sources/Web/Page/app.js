// The tablet page's code lives in ES modules under js/ (index.html loads js/main.js). This file only loads
// them: it is kept because the end-to-end tests still fetch /app.js among the files the server serves
// (test_faults_security PUBLIC_GET, test_faults_process). Delete it once they name /js/main.js instead.
import('./js/main.js');
