import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Stage {
  name: string;
  from: string;
  platform?: string;
  instructions: Instruction[];
  /** Instructions by keyword, upper case. */
  all(keyword: string): Instruction[];
  last(keyword: string): Instruction | undefined;
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
  stage(name: string): Stage;
}

/** The Dockerfile, parsed by dockerfile-ast and split into stages. */
export function parseDockerfile(path = `${ROOT}Dockerfile`): ParsedDockerfile {
  const df = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const globalArgs = new Map<string, string | undefined>();
  for (const a of df.getInitialARGs()) {
    const p = a.getProperty();
    if (p) globalArgs.set(p.getName(), p.getValue() ?? undefined);
  }
  const stages: Stage[] = [];
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword();
    if (kw === 'FROM') {
      const from = ins as unknown as {
        getImage(): string | null;
        getBuildStage(): string | null;
        getPlatformFlag(): { getValue(): string | null } | null;
      };
      const instructions: Instruction[] = [];
      stages.push({
        name: from.getBuildStage() ?? String(stages.length),
        from: from.getImage() ?? '',
        ...(from.getPlatformFlag() ? { platform: from.getPlatformFlag()!.getValue() ?? '' } : {}),
        instructions,
        all: (k) => instructions.filter((i) => i.getKeyword() === k),
        last: (k) => instructions.filter((i) => i.getKeyword() === k).at(-1),
      });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return {
    globalArgs,
    stages,
    stage: (name) => {
      const s = stages.find((x) => x.name === name);
      if (!s) throw new Error(`no stage ${name}`);
      return s;
    },
  };
}

/** Exec-form (JSON) arguments of ENTRYPOINT/CMD; undefined for shell form. */
export function execForm(ins: Instruction | undefined): string[] | undefined {
  const raw = ins?.getArgumentsContent()?.trim();
  if (!raw?.startsWith('[')) return undefined;
  return JSON.parse(raw) as string[];
}

/** `${NAME}` → the global ARG default. */
export function expand(text: string, args: Map<string, string | undefined>): string {
  return text.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (m, n: string) => args.get(n) ?? m);
}
