/** dependency_hang: the dependency accepts calls and never answers them (released when reverted). */
import { z } from 'zod';
import { controlFault } from './control.ts';

export const dependencyHang = controlFault('dependency_hang', 'the dependency never answers its calls', z.strictObject({}), () => ({ mode: 'hang' }));
