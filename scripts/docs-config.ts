/** Rewrites the README's configuration table from the settings declarations. */
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceConfigTable } from '../src/config/docs.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, replaceConfigTable(readFileSync(path, 'utf8')));
