/** A nested object: a framed sub-form with its own fields. */

import type { ReactNode } from "react";
import type { ObjectField } from "../model/schemaForm";
import { FieldList } from "./FieldList";
import { FieldShell } from "./FieldShell";

export function ObjectFieldView({ field, actions }: { field: ObjectField; actions?: ReactNode }) {
  return (
    <FieldShell field={field} actions={actions}>
      <div className="subform" data-testid={`subform-${field.path}`}>
        <FieldList fields={field.fields} scope={field.path} />
      </div>
    </FieldShell>
  );
}
