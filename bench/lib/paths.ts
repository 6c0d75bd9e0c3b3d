import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

// This file compiles to dist/bench/lib/paths.js, three levels below the repository root.
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** Compiled server programs, one per framework under test. */
export const serversDir = fileURLToPath(new URL('../servers/', import.meta.url))

/** farad's compiled entry point, as the bench servers import it. */
export const faradEntry = join(repoRoot, 'dist', 'src', 'index.js')

export const resultsMarkdown = join(repoRoot, 'bench', 'RESULTS.md')
export const resultsDir = join(repoRoot, 'bench', 'results')
